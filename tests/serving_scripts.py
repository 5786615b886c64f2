"""Programs the serving tests run in fresh interpreters; each prints one JSON line."""
import textwrap

# Imports nothing but TensorFlow, like TF Serving: every signature of a pushed version.
USE_ALL_SIGNATURES = textwrap.dedent(r"""
    import json, sys
    import tensorflow as tf
    model = tf.saved_model.load(sys.argv[1])
    generate = model.signatures["generate"]
    first = generate(num_samples=tf.constant(4), seed=tf.constant(7, tf.int64))
    again = generate(num_samples=tf.constant(4), seed=tf.constant(7, tf.int64))
    other = generate(num_samples=tf.constant(4), seed=tf.constant(8, tf.int64))
    pixels = tf.stack([tf.io.decode_png(png) for png in first["images_png_bytes"]])
    noise = tf.random.stateless_normal([4, model.signatures["serving_default"]
                                        .structured_input_signature[1]["noise"].shape[-1]],
                                       seed=tf.constant([7, 0], tf.int64))
    images = model.signatures["serving_default"](noise=noise)["images"]
    print(json.dumps({
        "shape": pixels.shape.as_list(),
        "same_seed_equal": bool(tf.reduce_all(first["images_png_bytes"]
                                              == again["images_png_bytes"])),
        "other_seed_differs": not bool(tf.reduce_all(first["images_png_bytes"]
                                                     == other["images_png_bytes"])),
        "png_matches_serving_default": bool(tf.reduce_all(
            pixels == tf.cast(tf.round(images * 255), tf.uint8))),
        "generate_outputs": sorted(first),
        "metadata": json.loads(model.signatures["metadata"](
            dummy=tf.constant(0))["metadata"].numpy()),
        "project_modules": sorted(m for m in sys.modules if m.split(".")[0]
                                  in ("modules", "components", "pipeline", "serving")),
    }))
""")

# Out-of-bounds requests, each timed and with the process's peak memory reset before it
# (writing 5 to /proc/self/clear_refs resets VmHWM, the peak resident set size).
BOUNDS = textwrap.dedent(r"""
    import json, sys, time
    import tensorflow as tf

    def status_kb(field):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(field))

    def refusal(call, **inputs):
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        before, start = status_kb("VmRSS:"), time.perf_counter()
        try:
            call(**inputs)
            message = None
        except tf.errors.InvalidArgumentError as error:
            message = error.message
        return {"seconds": time.perf_counter() - start, "message": message,
                "peak_growth_mb": (status_kb("VmHWM:") - before) / 1024}

    model = tf.saved_model.load(sys.argv[1])
    generate, serve = model.signatures["generate"], model.signatures["serving_default"]
    latent_dim = serve.structured_input_signature[1]["noise"].shape[-1]
    generate(num_samples=tf.constant(2), seed=tf.constant(0, tf.int64))  # warm up
    serve(noise=tf.zeros([2, latent_dim]))
    result = {"generate": [], "serving_default": []}
    for count in (0, -1, 257, 10**6, 2**31 - 1):
        result["generate"].append({"num_samples": count, **refusal(
            generate, num_samples=tf.constant(count), seed=tf.constant(1, tf.int64))})
    for rows in (0, 257, 10**5):
        noise = tf.zeros([rows, latent_dim])
        result["serving_default"].append({"noise_rows": rows, **refusal(serve, noise=noise)})
    print(json.dumps(result))
""")

# One of two pushes into one folder: waits at a start line (the file argv[3]) so both
# allocate a version in the same second (the clock is pinned to make sure).
CONCURRENT_PUSH = textwrap.dedent(r"""
    import json, os, sys, time
    from components.push import serving_folder as push
    model, base, go = sys.argv[1:4]
    open(f"{go}.ready.{os.getpid()}", "w").close()
    while not os.path.exists(go):
        time.sleep(0.001)
    result = push.push(model, base, {"fid": 1.0}, clock=lambda: 1_800_000_000)
    print(json.dumps({"pushed": result.pushed, "version": result.version}))
""")
