"""ImageCaptioner: fills `image_caption` from item images with a keras-hub PaliGemma model."""
