"""The training plan: settings left to the data are chosen from it, given ones are kept,
and every choice is reported."""
import json

import pytest

from modules.images import MAX_IMAGE_SIZE, MIN_IMAGE_SIZE
from modules.training.config import (EMA_BUDGET_SHARE, EMA_RAMPUP, NO_AUGMENTATION,
                                     TrainerConfig)
from modules.training.hardware import Hardware, cpu_flags
from modules.training.plan import MIN_FILTERS, plan_training

LEFT_TO_DATA = ("train_steps", "generator_filters", "discriminator_filters", "batch_size",
                "generator_learning_rate", "discriminator_learning_rate",
                "ema_half_life_images", "diff_augment", "precision", "r1_weight")
CPU = Hardware()
AMX = Hardware(cpu_flags=frozenset({"avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}))


def test_the_defaults_leave_the_data_dependent_settings_to_the_plan():
    assert set(TrainerConfig().chosen_from_data) == set(LEFT_TO_DATA)


@pytest.mark.parametrize("size", [2 ** power for power in range(
    MIN_IMAGE_SIZE.bit_length() - 1, MAX_IMAGE_SIZE.bit_length())])
@pytest.mark.parametrize("num_images", [100, 1437, 50_000])
def test_every_setting_is_chosen_for_every_size_and_count(size, num_images):
    plan = plan_training(TrainerConfig(image_size=size, channels=3), num_images, CPU)
    assert plan.config.chosen_from_data == ()
    assert {choice.name for choice in plan.choices} == set(LEFT_TO_DATA)
    assert all(choice.reason and choice.reason != "given" for choice in plan.choices)


def test_digits_keep_the_measured_make_run_choices():
    config = plan_training(TrainerConfig(image_size=8, channels=1), 1437, CPU).config
    assert (config.generator_filters, config.discriminator_filters) == (64, 64)
    assert config.generator_learning_rate == config.discriminator_learning_rate == 1e-4
    assert config.diff_augment == NO_AUGMENTATION  # too small to shift or cut
    assert config.r1_weight == 0


def test_small_photo_sets_get_narrow_networks_and_r1_or_else_diff_augment():
    config = plan_training(TrainerConfig(image_size=32, channels=3), 800, CPU).config
    assert config.generator_filters == config.discriminator_filters == MIN_FILTERS
    assert config.r1_weight > 0
    assert config.diff_augment == NO_AUGMENTATION  # R1 keeps D in check
    for without_r1 in (TrainerConfig(image_size=32, channels=3, loss="wgan_gp"),
                       TrainerConfig(image_size=32, channels=3, r1_weight=0.0)):
        config = plan_training(without_r1, 800, CPU).config
        assert config.r1_weight == 0  # wgan_gp has its own gradient penalty; or given
        assert config.augmentations and set(config.augmentations) <= {
            "color", "translation", "cutout"}
    large = plan_training(TrainerConfig(image_size=32, channels=3, r1_weight=0.0), 100_000,
                          CPU).config
    assert large.diff_augment == NO_AUGMENTATION


def test_the_budget_is_in_images_and_the_ema_half_life_a_share_of_it_the_ramp_up_reaches():
    plan = plan_training(TrainerConfig(image_size=32, channels=3), 800, CPU)
    images = plan.config.train_steps * plan.config.batch_size
    halved = plan_training(TrainerConfig(image_size=32, channels=3, batch_size=32), 800, CPU)
    assert halved.config.train_steps * 32 == pytest.approx(images, abs=32)
    assert plan.config.ema_half_life_images == pytest.approx(EMA_BUDGET_SHARE * images, rel=0.01)
    assert plan.config.ema_half_life_images <= EMA_RAMPUP * images  # the ramp-up reaches it


def test_given_settings_are_kept_and_reported_as_given():
    given = dict(batch_size=32, generator_filters=48, diff_augment="color",
                 ema_half_life_images=0, train_steps=7)
    plan = plan_training(TrainerConfig(image_size=32, channels=3, **given), 800, CPU)
    for name, value in given.items():
        assert getattr(plan.config, name) == value
    reasons = {choice.name: choice.reason for choice in plan.choices}
    assert all(reasons[name] == "given" for name in given)
    assert reasons["discriminator_filters"] != "given"


def test_the_plan_is_printed_and_recorded_whole():
    plan = plan_training(TrainerConfig(image_size=32, channels=1), 600, CPU)
    text = "\n".join(plan.lines())
    assert "600 images of 32x32x1" in text
    for choice in plan.choices:
        assert f"{choice.name} = {choice.value}" in text
    record = json.loads(json.dumps(plan.to_json()))
    assert record["num_images"] == 600
    assert {c["name"]: c["value"] for c in record["choices"]} == {
        name: getattr(plan.config, name) for name in LEFT_TO_DATA}


@pytest.mark.parametrize("size", [8, 32, 64])
def test_mixed_bfloat16_where_the_cpu_has_amx_and_float32_elsewhere(size):
    def precision(hardware: Hardware, **given) -> tuple[str, str]:
        plan = plan_training(TrainerConfig(image_size=size, channels=3, **given), 800, hardware)
        return plan.config.precision, {c.name: c.reason for c in plan.choices}["precision"]

    assert precision(AMX) == ("mixed_bfloat16", "CPU with AMX-BF16")
    assert precision(CPU)[0] == "float32"
    # AVX512-BF16 without AMX: no faster at the plan's widths.
    assert precision(Hardware(cpu_flags=frozenset({"avx512_bf16"})))[0] == "float32"
    assert precision(Hardware(gpus=1, cpu_flags=AMX.cpu_flags))[0] == "float32"
    assert precision(AMX, precision="float32") == ("float32", "given")


def test_the_hardware_is_read_from_the_kernel_and_recorded_with_the_plan(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512_bf16 amx_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu avx512_bf16 amx_bf16\n")
    hardware = Hardware(cpu_flags=cpu_flags(str(cpuinfo)))
    assert hardware.bfloat16_instructions == ("avx512_bf16", "amx_bf16")
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()
    plan = plan_training(TrainerConfig(image_size=32, channels=3), 800, hardware)
    assert "on CPU only, bfloat16 instructions: avx512_bf16, amx_bf16:" in plan.lines()[0]
    assert plan.to_json()["hardware"] == hardware.describe()


def test_no_images_is_refused():
    with pytest.raises(ValueError, match="no training images"):
        plan_training(TrainerConfig(), 0, CPU)

