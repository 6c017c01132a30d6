"""servetune's domain core: the spec, the search space, scoring, outcomes and the store."""

from tuning.loading import SpecError, load_spec, spec_from_data
from tuning.spec import TuningSpec

__all__ = ["SpecError", "TuningSpec", "load_spec", "spec_from_data"]
