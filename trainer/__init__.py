"""Model code: the teacher cross-encoder and the student (their shared export: models/)."""
