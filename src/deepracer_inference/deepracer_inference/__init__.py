"""DeepRacer model artifacts (ONNX / OpenVINO IR + model_metadata.json), inference engines and the inference node."""
