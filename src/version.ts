/** The package's version: `bptt --version`, and the producer_version of ONNX exports. Keep equal to package.json's. */
export const VERSION = "0.1.0";
