"""The built-in lint rules, one module per rule, named `arcNNN_rule_name.py` after its code and name.

Each module registers its rule with `@rule(...)` (code, name, severity, what it finds, why it
matters, a bad and a good example) and holds its check; helpers shared by several rules are in
`archc.lint._helpers`. `archc.lint.load_rules()` imports every module here: adding a rule is
adding a file (and its fixture and snapshot under tests/lint/).
"""
