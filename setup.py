"""Build hook for the optional native paths: the sFlow flow path (collector/sflow/_flowscan.c)
and the APIC build's page scanner (collector/apic/_pagescan.c).

Everything else is declared in pyproject.toml. The extension is optional: without a C compiler
the install still succeeds and each falls back to its pure-Python path (same output, tested by the
same cases).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "collector.sflow._flowscan",
            sources=["collector/sflow/_flowscan.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        Extension(
            "collector.apic._pagescan",
            sources=["collector/apic/_pagescan.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)
