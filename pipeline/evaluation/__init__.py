"""In-pipeline evaluation: the TFMA relevance metrics, the eval configs, the validation gate."""
