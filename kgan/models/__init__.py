"""Generator and discriminator families, one file each, registered by name (`kgan.models.base`)."""

from kgan.models.base import (FAMILIES, Discriminator, Family, Generator, get_family, protocol,
                              register_family)
from kgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from kgan.models.mlp import MLPDiscriminator, MLPGenerator
from kgan.models.r3gan import R3GANDiscriminator, R3GANGenerator
from kgan.models.sequence import SequenceDiscriminator, SequenceGenerator
from kgan.models.unet import PatchDiscriminator, UNetGenerator
from kgan.models.video import VideoDiscriminator, VideoGenerator

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "MLPGenerator", "MLPDiscriminator", "R3GANGenerator",
           "R3GANDiscriminator", "UNetGenerator", "PatchDiscriminator", "VideoGenerator",
           "VideoDiscriminator", "SequenceGenerator", "SequenceDiscriminator", "Generator", "Discriminator",
           "Family", "FAMILIES", "register_family", "get_family", "protocol"]

register_family("dcgan", DCGANGenerator, DCGANDiscriminator)
register_family("mlp", MLPGenerator, MLPDiscriminator)
register_family("r3gan", R3GANGenerator, R3GANDiscriminator)
register_family("video", VideoGenerator, VideoDiscriminator)
register_family("sequence", SequenceGenerator, SequenceDiscriminator)
register_family("pix2pix", UNetGenerator, PatchDiscriminator)
