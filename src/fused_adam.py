"""Adam whose per-weight update is TensorFlow's fused `ResourceApplyAdam` kernel.

Keras 3 writes Adam as ~20 element-wise ops per weight; TensorFlow launches each as its own
kernel, which on a 2-core CPU costs a noticeable share of a batch-32 step (BENCHMARKS.md).
The fused kernel applies the same rule - m += (g - m)(1 - b1), v += (g^2 - v)(1 - b2),
w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps) - so only rounding differs.
"""

import keras


@keras.saving.register_keras_serializable(package="mnist_lab")
class FusedAdam(keras.optimizers.Adam):
    """Keras' Adam (no amsgrad) with the update done in one TensorFlow kernel per weight."""

    def update_step(self, gradient, variable, learning_rate):
        import tensorflow as tf  # this class is only chosen under the TensorFlow backend

        index = self._get_variable_index(variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].value.handle,
            v=self._velocities[index].value.handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )
