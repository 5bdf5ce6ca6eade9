"""A multirun's jobs, what each costs, and how many run side by side on this machine.

- `jobs`: every job's overrides and checked config, as Hydra's basic sweeper expands them;
- `cost`: a job's cost from its model's training FLOPs, its images and its epochs;
- `plan`: this machine's cores, memory and GPUs, and the worker count that ends a sweep first;
- `gpus`: which GPU each worker process is pinned to;
- `progress`: the Hydra callback that prints the jobs done and the time left.

The launcher and the Optuna sweeper in `hydra_plugins/mnist_lab/` adapt these to Hydra; nothing
here imports them. Nothing here loads TensorFlow or MLflow, except `cost` when it builds a
model to count its FLOPs.
"""
