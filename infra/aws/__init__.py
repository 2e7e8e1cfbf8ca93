"""The `aws` target: partitions, tags, the flow matrix as security groups, the program."""
