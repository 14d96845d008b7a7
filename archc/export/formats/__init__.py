"""The `archc build --emit` formats, one module each; importing a module registers its format
(`archc.export.registry.register_format`). `archc.export.registry.load_formats` imports them all."""
