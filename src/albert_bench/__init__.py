"""albert-bench: fine-tune and benchmark ALBERT (or any Hugging Face encoder) for SQuAD 2.0 question answering."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """`from albert_bench import pipeline`: the removed transformers question-answering pipeline's stand-in
    (`qa_pipeline.pipeline`), imported on first use (PEP 562)."""
    if name == "pipeline":
        # Lazy: `import albert_bench` (the ground floor, which every stage imports) must not pull in torch and
        # transformers. tests/test_layers.py allows a higher floor here, inside this function only. The module is
        # not called `pipeline`: importing a submodule binds it as a package attribute, which would shadow the function.
        from .qa_pipeline import pipeline

        globals()["pipeline"] = pipeline  # later lookups skip this hook
        return pipeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
