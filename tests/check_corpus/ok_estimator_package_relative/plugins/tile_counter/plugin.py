from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorReplacementPlugin

from .estimator import TileEstimator


class TileCounterPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    @property
    def deviceClass(self):
        configured = self.appConfig.estimatorsSettings.peopleCounter.deviceClass
        return self.globalDeviceClass if configured == "global" else configured

    def createReplacementEstimator(self) -> TileEstimator:
        return TileEstimator()

    def close(self) -> None:
        pass
