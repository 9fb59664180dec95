"""Training-framework integrations: :mod:`.lightning` (a PyTorch Lightning logger) and
:mod:`.transformers` (a Hugging Face ``TrainerCallback``). Each imports its framework only
when it is imported itself."""
