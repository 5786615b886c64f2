"""The Trainer stage: `trainer.run_fn` and everything it trains with."""
