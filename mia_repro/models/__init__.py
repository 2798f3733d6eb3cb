"""The models: the paper's CNN (:mod:`.cnn`), its configuration (:mod:`.config`), what a trained model is
asked (:mod:`.queries`) and the inference that answers it (:mod:`.inference`)."""
