"""Everything that runs without TensorFlow or Keras: numpy, Pillow, scipy and onnxruntime.

A deployed generator needs only this package: `GeneratorRuntime` (`inference`) runs an
exported model; `samples` declares and shows what it makes (`SampleSpec`, grids, clips,
text); `latent` and `labels` draw its named inputs for a seed; `samplers` and `calibration`
choose samples with the exported discriminator; `metrics` scores samples; `images` writes
PNG, GIF and MP4 files and folders atomically. `lint-imports` holds the boundary: nothing
here imports TensorFlow, Keras or the Keras side of kgan.

Example:
    >>> from kgan.runtime.inference import GeneratorRuntime
    >>> runtime = GeneratorRuntime("export/digits")  # doctest: +SKIP
    >>> images = runtime.generate(16, seed=0)  # doctest: +SKIP
"""
