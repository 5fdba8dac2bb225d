"""One module per dataset, each defining its `Dataset` as `DATASET` (`base.all_datasets`)."""
