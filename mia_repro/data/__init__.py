"""The data: CIFAR-10 pooled and verified (:mod:`.cifar10`), the member / non-member splits of every size
(:mod:`.splits`) and the augmentations of the label-only attack (:mod:`.augment`).  numpy only."""
