"""Where a trial's engine runs. Adding a deployer means adding a module and a line in DEPLOYERS."""

from deployers._base import (
    Deployer,
    DeployError,
    Deployment,
    EngineExited,
    ReadyTimeout,
    TransientDeployError,
)
from deployers._docker import DockerDeployer
from deployers._local import LocalDeployer
from deployers._ome import OmeDeployer
from tuning.spec import TuningSpec

DEPLOYERS: dict[str, type[Deployer]] = {
    LocalDeployer.kind: LocalDeployer,
    DockerDeployer.kind: DockerDeployer,
    OmeDeployer.kind: OmeDeployer,
}


def deployer_for(spec: TuningSpec) -> Deployer:
    return DEPLOYERS[spec.deployer.kind](spec)


__all__ = [
    "DEPLOYERS",
    "DeployError",
    "Deployer",
    "Deployment",
    "DockerDeployer",
    "EngineExited",
    "LocalDeployer",
    "OmeDeployer",
    "ReadyTimeout",
    "TransientDeployError",
    "deployer_for",
]
