"""`create_pipeline()`: the one definition of the GAN pipeline every runner compiles."""
from __future__ import annotations

from tfx import v1 as tfx

from components.validation.component import AnomaliesGate, ConstrainedSchema
from components.evaluation.component import FidEvaluator
from components.push.component import GeneratorPusher
from components.ingest.component import ImageExampleGen
from pipeline import configs
from pipeline.code_version import code_version


def create_pipeline(config: configs.PipelineConfig,
                    metadata_connection_config=None) -> tfx.dsl.Pipeline:
    """Ingest, validate (stopping on anomalies), transform, train, score with FID, push."""
    example_gen = ImageExampleGen(config.data_dir, config.ingest_options(),
                                  code_version=code_version(configs.INGEST_MODULE))

    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"],
                                          infer_feature_shape=True)
    constrained_schema = ConstrainedSchema(
        schema=schema_gen.outputs["schema"], expectations=config.data_expectations().to_json(),
        code_version=code_version(configs.VALIDATION_MODULE))
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=constrained_schema.outputs["constrained_schema"])
    anomalies_gate = AnomaliesGate(anomalies=example_validator.outputs["anomalies"],
                                   schema=constrained_schema.outputs["constrained_schema"])

    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=anomalies_gate.outputs["validated_schema"],
        preprocessing_fn=configs.PREPROCESSING_FN,
        custom_config=config.transform_custom_config())

    trainer = tfx.components.Trainer(
        run_fn=configs.RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        # 0: the Trainer's plan chooses (TFX passes `train_steps` None).
        train_args=tfx.proto.TrainArgs(num_steps=config.training.train_steps or 0),
        custom_config=config.trainer_custom_config())

    fid_evaluator = FidEvaluator(
        transformed_examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        model=trainer.outputs["model"],
        settings=config.evaluation.to_json(),
        seed=config.training.seed,
        cache_dir=config.fid_cache_dir,
        serving_dir=config.serving_dir,
        code_version=code_version(configs.EVALUATION_MODULE))

    pusher = GeneratorPusher(
        model=trainer.outputs["model"],
        model_blessing=fid_evaluator.outputs["blessing"],
        evaluation=fid_evaluator.outputs["evaluation"],
        serving_dir=config.serving_dir,
        settings=config.push.to_json(),
        code_version=code_version(configs.PUSH_MODULE))

    return tfx.dsl.Pipeline(
        pipeline_name=configs.PIPELINE_NAME,
        pipeline_root=config.pipeline_root,
        components=[example_gen, statistics_gen, schema_gen, constrained_schema,
                    example_validator, anomalies_gate, transform, trainer, fid_evaluator,
                    pusher],
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_pipeline_args))
