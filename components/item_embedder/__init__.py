"""ItemEmbedder: writes the pretrained bi-encoder's query and item embeddings, PCA-reduced
to D floats in one space, onto every tf.Example (`item_embedding`, `query_embedding`)."""
