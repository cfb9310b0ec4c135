"""Parameter counts equal the reference implementation exactly (transformers 5.24 on the meta
device, sum(p.numel())), for every preset and every supported model_type."""

import pytest
from tiny_configs import TINY, TINY_DEFAULT_VISION

from ridgeline.model.hf import SUPPORTED_MODEL_TYPES, spec_from_config
from ridgeline.model.load import preset_config, presets
from ridgeline.model.params import count_params

pytestmark = pytest.mark.reference


@pytest.mark.parametrize("preset", presets(), ids=lambda p: p.name)
def test_every_preset_count_equals_meta_device_count(preset):
    from ridgeline.validate.reference import meta_param_count

    cfg = preset_config(preset)
    assert count_params(spec_from_config(cfg, preset.name)).total == meta_param_count(cfg)


@pytest.mark.parametrize("name", sorted(TINY))
def test_tiny_config_count_equals_meta_device_count(name):
    from ridgeline.validate.reference import meta_param_count

    cfg = TINY[name]
    assert count_params(spec_from_config(cfg, name)).total == meta_param_count(cfg)


@pytest.mark.parametrize("name", sorted(TINY_DEFAULT_VISION))
def test_wrapper_without_vision_config_counts_the_default_tower(name):
    from ridgeline.validate.reference import meta_param_count

    cfg = TINY_DEFAULT_VISION[name]
    spec = spec_from_config(cfg, name)
    assert spec.vision is not None and any("vision_config is absent" in n for n in spec.notes)
    assert count_params(spec).total == meta_param_count(cfg)


def test_every_supported_model_type_is_exercised():
    specs = [spec_from_config(c) for c in TINY.values()]
    types = {s.wrapper_model_type or s.model_type for s in specs}
    assert types == set(SUPPORTED_MODEL_TYPES)
