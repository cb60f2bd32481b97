"""`_Kept`: a functional network's constructor arguments as its Keras config."""


class _Kept:
    """Keeps a network's constructor arguments as attributes and gives them back as its Keras config (the
    keras-hub Backbone convention: the functional graph is rebuilt from the arguments)."""

    def _keep(self, **options):
        for name, value in options.items():
            setattr(self, name, list(value) if isinstance(value, (list, tuple)) and name != "image_shape" else value)
        self._option_names = tuple(options)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **{n: getattr(self, n) for n in self._option_names}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
