"""Lambda packaging (``thumbnailer package``) and the Terraform module's generated docs."""

from thumbnailer.packaging.build import (
    ARCHITECTURES,
    OPTIONAL_EXTRAS,
    BuildResult,
    build,
    write_reproducible_zip,
)

__all__ = ["ARCHITECTURES", "OPTIONAL_EXTRAS", "BuildResult", "build", "write_reproducible_zip"]
