"""The kernel: what every use case shares, written once (Camunda's command interceptors).

`app` (the dependencies every use case is given), `units` and `batch` (units of work: one transaction
per operation, or one for many), `operation` (what one operation changes), `advance` (run a workflow
until it waits and write the outcome, in named steps), `events` (lifecycle events of tasks and rows),
`recording` (record hooks in the transaction, notify hooks after it), `failures` (incidents),
`routing` (messages and signals between instances), `waits` (the subscription index), `definitions`
(process versions and the called versions of an instance), `permissions`, `schema` and `rows` (views of
stored rows, checks on them). Use cases (engine/*.py) import what they need from these modules.
"""
