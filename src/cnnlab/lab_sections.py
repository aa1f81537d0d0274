"""What each section of experiments/<lab>/README.md shows: one entry per row of LABS.md, with
the question in one line, the make target, the runs, sweeps and tasks that answer it, and the
lab's own reported figures (the only numbers typed in; ours always come from run dirs)."""

from __future__ import annotations

from dataclasses import dataclass, field

TITLES = {
    "dd2427": "dd2427: ConvNet building blocks, backprop, text deblurring",
    "keras7": "keras7: CNN on MNIST, convolution by hand, its gradient",
    "mainf6": "mainf6: CNNs on CIFAR-10",
    "vu3a": "vu3a: convolution by unfold, MNIST, variable resolution, global pooling",
    "rdfia": "rdfia: CNNs on CIFAR-10 and how to improve them",
}


@dataclass
class Section:
    """One row of LABS.md: its ids, the question in one line, where its answer lives."""

    ids: str
    question: str
    target: str
    runs: list[str] = field(default_factory=list)
    sweeps: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    # The lab's reported figure: (label, metric column of ours, value as the lab wrote it).
    reference: list[tuple[str, str, float]] = field(default_factory=list)
    reading: str = ""


S = Section
SPEC: dict[str, list[Section]] = {
    "dd2427": [
        S(
            "q1, t1",
            "Output size of a valid convolution and the padding that keeps H x W.",
            "dd2427-q1",
            tasks=["filter_bank", "conv_arith_dd2427"],
            reading="A valid k x k convolution leaves H-k+1; padding (k-1)/2 on each side keeps H x W.",
        ),
        S(
            "q2, t2, t3, q3, q4, q5",
            "A filter bank (Laplacian, edges, Sobel) on a photo; K; filter depth.",
            "dd2427-q2",
            tasks=["filter_bank"],
            reading=(
                "One output channel per filter (K = filters); each filter is as deep as the input "
                "has channels."
            ),
        ),
        S(
            "t4",
            "The filter bank on a batch of two images (N x K x H x W).",
            "dd2427-t4",
            tasks=["filter_bank"],
            reading="The batch dimension passes through: the output is N x K x H x W.",
        ),
        S(
            "t5-t7, q7-q10",
            "Negated Laplacian then ReLU, sigmoid, tanh; ReLU with bias -0.2.",
            "dd2427-t5",
            tasks=["activation_functions"],
            reading=(
                "ReLU zeroes the negative responses; a negative bias raises the threshold and fewer"
                " pixels stay active."
            ),
        ),
        S(
            "t8",
            "Max and average pooling at several window sizes.",
            "dd2427-t8",
            tasks=["pooling"],
            reading="Max pooling keeps thin strong edges, average pooling blurs them as the window grows.",
        ),
        S(
            "t9-t12, q10b, q11-q14",
            "Numerical derivative checks with a random projection p.",
            "dd2427-t9",
            tasks=["grad_check_dd2427"],
            reading="Analytic and central-difference derivatives agree to the printed max abs difference.",
        ),
        S(
            "t13, t14",
            "L2 and L1 loss layers with hand-written backward; L1 near 0.",
            "dd2427-t13",
            tasks=["loss_layers"],
            reading=(
                "Both backward passes match finite differences; L1's derivative jumps at 0, so "
                "checks there fail."
            ),
        ),
        S(
            "t15, q15",
            "The text data set: counts, image size, white = 0.",
            "dd2427-t15",
            tasks=["textblur_stats"],
            reading="Our generated stand-in for the lab's unpublished 3,452 patches.",
        ),
        S(
            "q16-q22",
            "The deblur net: sizes, mul-adds, receptive field, a larger one, pad 0.",
            "dd2427-q16",
            tasks=["conv_arith_dd2427", "summary_deblur"],
            reference=[
                ("receptive field", "task:conv_arith_dd2427:q22_receptive_field", 7),
                (
                    "receptive field, 5x5 first layer",
                    "task:conv_arith_dd2427:q22_receptive_field_5x5_first",
                    9,
                ),
            ],
            reading=(
                "Three 3x3 layers see 7 x 7 pixels; a 5x5 first layer makes it 9; pad 0 shrinks the"
                " output by 2 per layer."
            ),
        ),
        S(
            "t16",
            "Train the deblur net with batch 16 and 64: loss curves and wall time.",
            "dd2427-t16",
            runs=["dd2427/t16_bs16", "dd2427/t16_bs64"],
            reading="Batch 64 takes 4x fewer steps per epoch: faster epochs, slower progress per epoch.",
        ),
        S(
            "eval",
            "Input / output / target grids; train vs val loss and PSNR.",
            "dd2427-eval",
            runs=["dd2427/t16_bs16", "dd2427/t16_bs64"],
            reading=(
                "See the grids: the net sharpens strokes; train and val PSNR stay close (no over-fitting)."
            ),
        ),
    ],
    "keras7": [
        S(
            "e1",
            "The 93,322-parameter CNN on MNIST, RMSprop, batch 64, 5 epochs, 20% validation.",
            "keras7-e1",
            runs=["keras7/e1"],
            reference=[
                ("test accuracy", "test_acc", 0.9905),
                ("test loss", "test_loss", 0.0305),
                ("parameters", "n_params", 93322),
            ],
            reading="Same architecture and optimiser as the Keras lab; the parameter count matches exactly.",
        ),
        S(
            "e2",
            "Convolution as loops vs the library; Sobel edge magnitude.",
            "keras7-e2",
            tasks=["sobel_keras7"],
            reading=(
                "The loop convolution equals torch's to float precision; the magnitude image "
                "outlines the edges."
            ),
        ),
        S(
            "e3",
            "dL/dK and dL/dX by the lab's formulas; gradient ascent image.",
            "keras7-e3",
            tasks=["grad_keras7"],
            reading=(
                "Both gradients match finite differences; ascent grows the image the Sobel filter "
                "responds to most."
            ),
        ),
    ],
    "mainf6": [
        S(
            "ta",
            "Gradients of a SAME convolution, 2x2 max pooling, a strided convolution.",
            "mainf6-ta",
            tasks=["grad_mainf6"],
            reading="The closed forms match autograd to the printed differences.",
        ),
        S(
            "tb",
            "Receptive field after m convolutions / m blocks; VALID output size.",
            "mainf6-tb",
            tasks=["conv_arith_mainf6"],
            reading="The formulas agree with receptive fields measured by gradients.",
        ),
        S(
            "a1",
            "Baseline MLP with batch norm, Adam 5e-4 (0.9, 0.95), 25 epochs.",
            "mainf6-a1",
            runs=["mainf6/a1"],
            reading="An MLP ignores the image's 2-D structure and over-fits CIFAR-10 early.",
        ),
        S(
            "a2",
            "VGG-block CNN, same schedule.",
            "mainf6-a2",
            runs=["mainf6/a2"],
            reading="Shared local filters give the CNN a clear lead over the MLP.",
        ),
        S(
            "a3",
            "Losses and accuracies of a1 and a2 in one figure.",
            "mainf6-a3",
            runs=["mainf6/a1", "mainf6/a2"],
            reading="The CNN's test accuracy is above the MLP's at every epoch.",
        ),
        S(
            "b1-b4",
            "2-3 augmentations, a grid of draws, the CNN retrained, plotted with a1 and a2.",
            "mainf6-b3",
            runs=["mainf6/a1", "mainf6/a2", "mainf6/b3"],
            tasks=["augment_preview_cifar10"],
            reading="Crops and flips keep the label; they slow training loss down and lift test accuracy.",
        ),
        S(
            "b5",
            "Regularisation on top (batch norm + weight decay), plot of everything.",
            "mainf6-b5",
            runs=["mainf6/a1", "mainf6/a2", "mainf6/b3", "mainf6/b5"],
            reading="Batch norm and weight decay on top of augmentation.",
        ),
        S(
            "c",
            "Every conv activation after ReLU for one test image, one colour scale.",
            "mainf6-c",
            runs=["mainf6/c"],
            reading=(
                "Early layers respond to edges and colours everywhere; deeper ones sparsely, to larger parts."
            ),
        ),
    ],
    "vu3a": [
        S(
            "q1.1-q1.3",
            "Convolution by loops and by unfold on a batch, equal to torch's.",
            "vu3a-q1.1",
            tasks=["conv_unfold_vu3a"],
            reading="Unfold + matmul reproduces conv2d exactly, and far faster than loops.",
        ),
        S(
            "q1.4-q1.6",
            "A conv autograd Function (unfold forward, fold backward), gradcheck.",
            "vu3a-q1.4",
            tasks=["conv_unfold_vu3a"],
            reading="gradcheck passes and the gradients equal torch's.",
        ),
        S(
            "q2.7",
            "Baseline CNN on MNIST 50k/10k, lr 0.001, batch 16, 5 epochs.",
            "vu3a-q2.7",
            runs=["vu3a/q2_7"],
            reference=[("validation accuracy", "val_acc", 0.9783)],
            reading="The small conv net reaches the lab's figure.",
        ),
        S(
            "q2.8, q2.9",
            "The same with rotation and affine augmentation.",
            "vu3a-q2.8",
            runs=["vu3a/q2_7", "vu3a/q2_8"],
            reference=[("validation accuracy", "val_acc", 0.9836)],
            reading="Small rotations and shifts are label-preserving for digits.",
        ),
        S(
            "q3.10, q3.11",
            "Strided conv output sizes; global pooling gives (b, c, 1, 1).",
            "vu3a-q3.10",
            tasks=["conv_arith_vu3a"],
            reference=[
                (
                    "3x1024x768 -> W x H",
                    "task:conv_arith_vu3a:q3_10_outputs.3x1024x768.real_WxH",
                    "[511, 383]",
                ),
                (
                    "3x1920x1080 -> W x H",
                    "task:conv_arith_vu3a:q3_10_outputs.3x1920x1080.real_WxH",
                    "[959, 539]",
                ),
            ],
            reading="floor((H + 2p - k) / s) + 1 gives the sizes above; global pooling leaves b x c x 1 x 1.",
        ),
        S(
            "q3.12, q3.13",
            "Variable-resolution MNIST resized to the smallest size and trained.",
            "vu3a-q3.12",
            runs=["vu3a/q3_12"],
            reference=[("validation accuracy", "val_acc", 0.9195)],
            reading=(
                "Shrinking 48 and 64 pixel digits to 32 loses little: MNIST digits are 28 pixels to"
                " begin with."
            ),
        ),
        S(
            "q3.14-q3.16",
            "Global max vs average pooling on variable-resolution batches.",
            "vu3a-q3.16",
            runs=["vu3a/q3_14", "vu3a/q3_15"],
            reference=[("parameters", "n_params", 29029)],
            reading=(
                "The net takes every size as it is; max pooling picks the strongest stroke detector response."
            ),
        ),
        S(
            "q3.17",
            "Tuning lr and batch size of both nets; test accuracy of the tuned pair.",
            "vu3a-q3.17",
            sweeps=["vu3a/q3_17/lr", "vu3a/q3_17/bs/gp", "vu3a/q3_17/bs/resize"],
            reference=[
                ("test accuracy, global max pool net", "gp", 0.987),
                ("test accuracy, resize net", "resize", 0.969),
            ],
            reading="Step 1 picks each net's lr at batch 16; step 2 its batch size at that lr.",
        ),
    ],
    "rdfia": [
        S(
            "q1-q7",
            "Conv output size and weights vs a dense layer; FC as conv; receptive fields.",
            "rdfia-q1",
            tasks=["conv_arith_rdfia"],
            reading="A conv layer's weights do not depend on the input size; a dense one's do.",
        ),
        S(
            "q8-q12",
            "The AlexNet-style net layer by layer: padding, sizes, weights.",
            "rdfia-q8",
            tasks=["conv_arith_rdfia", "summary_alexnet"],
            reading="Padding 2 keeps 5x5 convolutions' size; fc4 holds most of the weights.",
        ),
        S(
            "q13, q14",
            "LeNet-5 on MNIST from one command; train (running) vs test metrics.",
            "rdfia-q13",
            runs=["rdfia/q13"],
            reading=(
                "Train metrics are averaged over the epoch while the weights move (train mode); "
                "test uses the final weights in eval mode."
            ),
        ),
        S(
            "q15, q17, q18",
            "The AlexNet-style net on CIFAR-10; first-epoch error; over-fitting.",
            "rdfia-q15",
            runs=["rdfia/q15"],
            reading="Without regularisation the train loss keeps falling while the test loss turns up.",
        ),
        S(
            "q16",
            "Learning rate and batch size sweep.",
            "rdfia-q16",
            sweeps=["rdfia/q16"],
            reading="Larger lr and smaller batches take more, noisier steps per epoch.",
        ),
        S(
            "q19-q21",
            "+ per-channel standardisation from the train split.",
            "rdfia-q19",
            runs=["rdfia/q15", "rdfia/q19"],
            reading=(
                "Standardised inputs condition SGD better; statistics come from train only so test "
                "stays unseen."
            ),
        ),
        S(
            "q22-q25",
            "+ random crop 28 and flip, centre crop at test, ceil_mode pool3.",
            "rdfia-q22",
            runs=["rdfia/q19", "rdfia/q22"],
            reading="Augmentation narrows the train/test gap.",
        ),
        S(
            "q26, q27",
            "+ SGD momentum 0.9 and exponential lr decay 0.95.",
            "rdfia-q26",
            runs=["rdfia/q22", "rdfia/q26"],
            reading="Momentum averages gradients; decay shrinks the late steps.",
        ),
        S(
            "q28",
            "Other lr schedules (bonus).",
            "rdfia-q28",
            sweeps=["rdfia/q28"],
            reading="Cosine and one-cycle schedules against q26's exponential decay.",
        ),
        S(
            "q29-q33",
            "+ dropout between fc4 and fc5.",
            "rdfia-q29",
            runs=["rdfia/q26", "rdfia/q29"],
            reading="Dropout regularises fc4; it is off at test time (eval mode).",
        ),
        S(
            "q34",
            "+ batch norm after each convolution; the whole ladder.",
            "rdfia-q34",
            runs=["rdfia/q15", "rdfia/q19", "rdfia/q22", "rdfia/q26", "rdfia/q29", "rdfia/q34"],
            reading="Each step of the ladder q15 -> q34 side by side.",
        ),
    ],
}
