/**
 * TensorFlow.js for training only: the native binding (@tensorflow/tfjs-node) where it is
 * installed (a Pi image built with internet access), else the pure-JavaScript CPU backend. It is
 * imported lazily, so the scoring path of the inference service never loads it.
 */
export type TensorFlow = typeof import('@tensorflow/tfjs');

let loading: Promise<{ tf: TensorFlow; backend: string }> | undefined;

export function loadTensorFlow(): Promise<{ tf: TensorFlow; backend: string }> {
  loading ??= (async () => {
    try {
      // Optional dependency: its install downloads libtensorflow, which some machines cannot.
      const native = (await import(/* optional */ '@tensorflow/tfjs-node' as string)) as TensorFlow;
      await native.ready();
      return { tf: native, backend: native.getBackend() };
    } catch {
      const tf = await import('@tensorflow/tfjs');
      await tf.setBackend('cpu');
      await tf.ready();
      return { tf, backend: tf.getBackend() };
    }
  })();
  return loading;
}
