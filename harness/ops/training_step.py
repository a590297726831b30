"""Op records for the documents' worked examples that combine several TF calls in one op.

``examples.`` names are not TF API names: each stands for a snippet of a document, and its
TF side runs that snippet with real TF (GradientTape in place of TF1's tf.gradients).
"""
from harness.reference import training_step
from harness.registry import Arg, OpSpec


def _clipped_grads_tf(tf, init, args):
    w = tf.Variable(args["w"])
    b = tf.Variable(args["b"])
    with tf.GradientTape() as tape:
        logits = tf.matmul(args["x"], w) + b
        loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(args["labels"], logits)
    grads = tape.gradient(loss, [w, b])
    return tf.clip_by_global_norm(grads, args.get("clip_norm", 5.0))


OPS = [
    OpSpec(
        name="examples.linear_softmax_clipped_grads",
        reference=training_step.linear_softmax_clipped_grads,
        args=(
            Arg("x", "float", doc="inputs [N, D]", kind="embeddings"),
            Arg("labels", "int", doc="class indices [N]", kind="class_ids"),
            Arg("w", "float", doc="weights [D, C]", kind="embeddings"),
            Arg("b", "float", doc="biases [C]", kind="embeddings"),
            Arg("clip_norm", "value", default=5.0, doc="max_grad_norm"),
        ),
        tf_call=_clipped_grads_tf,
        dtypes=("float32",),
        fuzz="linear_softmax_clipped_grads",
        bench="linear_softmax",
        summary=("not a TF API: document 000's training step as one op: the mean sparse cross-entropy of a "
                 "linear layer x @ w + b, its gradients for w and b, clipped by global norm; returns (grads, norm)"),
    ),
]
