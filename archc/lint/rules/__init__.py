"""The built-in lint rules, one module per rule, named `arcNNN_rule_name.py` after its code and name.

Each module registers its rule with `@rule(...)` (code, name, severity, what it finds, why it
matters, a bad and a good example) and holds its check; helpers shared by several rules are in
`archc.lint._helpers`. `archc.lint.load_rules()` imports every module here: adding a rule is
adding a file (and its fixture and snapshot under tests/lint/).

A rule whose finding has a safe, meaning-preserving fix says so (`@rule(..., fix="what it does")`)
and yields `Finding(..., fix=Fix(node, key, value))`: data, never text; `archc lint --fix` makes
it (archc.lint_driver.fix). Only ARC304 has one (`bias: false`: batch norm cancels the bias, so
every output stays the same). The others have none that is safe: removing an unused node, input,
block or param (ARC311-ARC314) changes the module's attributes, its signature, or what `--set`
and variants accept; ARC305, ARC306, ARC307, ARC310 and ARC501 change what the model computes;
ARC401/ARC402 change widths; the rest have no single right answer.
"""
