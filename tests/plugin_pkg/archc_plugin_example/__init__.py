"""An example archc op plugin. Importing `archc_plugin_example.ops` registers `swiglu`."""
