"""trio_webkit's benchmark suite: ``python -m benchmarks run [--quick] [SECTION...]``.

One module per section (hello, static, client, idle, slow), each also
runnable on its own (``python -m benchmarks.hello --help``); ``run.py``
runs them together and writes the combined report, ``plot.py`` draws it.
See README.md in this folder for the method.
"""
