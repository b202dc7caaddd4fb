"""albert-bench: fine-tune and benchmark ALBERT (or any Hugging Face encoder) for SQuAD 2.0 question answering."""

__version__ = "0.1.0"
