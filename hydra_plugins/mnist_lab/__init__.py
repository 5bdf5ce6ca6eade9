"""This project's Hydra plugin: the default sweep launcher (launcher.py). Hydra instantiates
launchers only from the `hydra_plugins` namespace, and imports it at every start-up, so this
package stays light: nothing here loads MLflow, Keras or TensorFlow."""
