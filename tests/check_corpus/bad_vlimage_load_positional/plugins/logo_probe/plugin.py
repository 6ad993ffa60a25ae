"""Self-test at start: loads a probe image shipped with the plugin and logs its size."""
from pathlib import Path

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin
from lunavl.sdk.image_utils.image import VLImage

PROBE = Path(__file__).parent / "probe.png"


class LogoProbePlugin(BaseBackgroundPlugin):
    async def initialize(self):
        image = VLImage.load(str(PROBE))
        self.app.ctx.logger.info(f"logo_probe: probe image {image.rect.width}x{image.rect.height}")

    async def start(self):
        pass

    async def close(self):
        pass
