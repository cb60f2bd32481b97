"""Generator and discriminator families, one file each."""

from kgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from kgan.models.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "MLPGenerator", "MLPDiscriminator"]
