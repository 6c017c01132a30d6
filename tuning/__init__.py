"""servetune's domain core, in layers (each imports only those below it; `make test` checks this):

- ``spec``: the one schema, and loading it from a file;
- ``search`` and ``evaluation``: which configuration to try next; what a measurement means;
- ``runtime``: settings, process groups, proxies, GPUs and work pools of the machine servetune runs on;
- ``store``: runs, trials and rounds in the database;
- ``report``: what a run found, for people;
- ``cli``: the ``servetune`` command, the only part that may import the flows and the deployers.
"""
