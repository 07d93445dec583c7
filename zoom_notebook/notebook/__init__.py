"""The notebook's faces: the ``%zoomchat`` magics, the compose form, output capture and
autonotify. The only layer that imports IPython or ipywidgets."""
