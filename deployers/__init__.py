"""Where a trial's engine runs. Adding a deployer means adding a module (its ``Deployer`` and its ``EngineHandle``)
and naming it in ``DEPLOYERS``."""

from deployers._base import (
    Deployer,
    DeployError,
    Deployment,
    EngineExited,
    EngineHandle,
    ReadyTimeout,
    TransientDeployError,
)
from deployers._docker import DockerDeployer, DockerHandle
from deployers._labels import EngineLabels
from deployers._local import LocalDeployer, LocalHandle
from deployers._ome import OmeDeployer, OmeHandle
from deployers._replay import ReplayDeployer, ReplayHandle
from tuning.spec import TuningSpec

DEPLOYERS: dict[str, type[Deployer]] = {
    LocalDeployer.kind: LocalDeployer,
    DockerDeployer.kind: DockerDeployer,
    OmeDeployer.kind: OmeDeployer,
    ReplayDeployer.kind: ReplayDeployer,
}


def deployer_for(spec: TuningSpec) -> Deployer:
    """The deployer the spec names. One instance serves a whole trial: deploy, wait_ready, logs, teardown."""
    return DEPLOYERS[spec.deployer.kind](spec)


__all__ = [
    "DEPLOYERS",
    "DeployError",
    "Deployer",
    "Deployment",
    "DockerDeployer",
    "DockerHandle",
    "EngineExited",
    "EngineHandle",
    "EngineLabels",
    "LocalDeployer",
    "LocalHandle",
    "OmeDeployer",
    "OmeHandle",
    "ReadyTimeout",
    "ReplayDeployer",
    "ReplayHandle",
    "TransientDeployError",
    "deployer_for",
]
