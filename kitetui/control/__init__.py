"""The control socket and everything that speaks it.

``protocol`` (the words and the JSON codec, derived from ``kitetui.commands``),
``server`` (the desk's side), ``client`` (one connection), ``link`` (how a screen reaches
a desk: in-process or over the socket) and ``ctl`` (``kitetui ctl``).
"""
