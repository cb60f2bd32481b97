"""Generator and discriminator families, one file each."""

from kgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from kgan.models.mlp import MLPDiscriminator, MLPGenerator
from kgan.models.sequence import SequenceDiscriminator, SequenceGenerator
from kgan.models.video import VideoDiscriminator, VideoGenerator

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "MLPGenerator", "MLPDiscriminator", "VideoGenerator",
           "VideoDiscriminator", "SequenceGenerator", "SequenceDiscriminator"]
