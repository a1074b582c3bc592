"""The torch backend: a Plan lowered to nodes, then built into an fx GraphModule
(``build``) or written out as standalone source (``eject``); artifacts of `netspec build`."""
