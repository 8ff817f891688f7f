"""Build hook for the optional native sFlow flow path (collector/sflow/_flowscan.c).

Everything else is declared in pyproject.toml. The extension is optional: without a C compiler
the install still succeeds and the collector uses its pure-Python fast path (same output, tested
by the same golden cases).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "collector.sflow._flowscan",
            sources=["collector/sflow/_flowscan.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
