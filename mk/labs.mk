# The five labs of ../shared/LABS.md: `make <lab>-<question>` reproduces one question,
# `make <lab>` a whole lab, `make labs` all five, `make report` rebuilds experiments/*/README.md.
#
# BUDGET=full (default) or smoke selects conf/budget/<budget>.yaml, appended after the preset:
# full is the lab's own schedule; smoke, a pipeline check and never an answer, cuts epochs and
# batches per epoch (and, for the
# variable-resolution MNIST runs, the images per split) so a lab takes minutes on a CPU.
# DATA_ROOT=<dir> reads the offline copies (MNIST/raw/*.gz, FashionMNIST/raw/*.gz,
# cifar10-jpeg.tar.gz) from a folder that may be read-only: `lab-data` unpacks the IDX files
# into the writable LAB_DATA once, and CIFAR-10 unpacks from the tarball into LAB_DATA too.
# Without DATA_ROOT, torchvision downloads into LAB_DATA as usual.
# A question's results stay in $(LAB_OUT)/<budget>/<lab>/<question> (training) or
# $(LAB_OUT)/tasks/<task> (the rest); a target whose results exist is not run again:
# `make labs-clean` (or deleting that folder) makes it rerun. A run stopped part-way (Ctrl-C,
# a crash, a reboot) resumes from its last epoch's checkpoint when the target is made again,
# and a sweep skips the jobs that finished. ARGS="key=value ..." adds
# overrides to every training run, e.g. make rdfia-q13 ARGS="trainer.batch_size=64".

LAB_DATA ?= data
LAB_OUT ?= outputs/labs
LAB_RUNS = $(LAB_OUT)/$(BUDGET)
LAB_TASKS = $(LAB_OUT)/tasks
TRAIN := $(PY) -m cnnlab.train
LABTASK := $(PY) -m cnnlab.lab
JOBLIB := hydra/launcher=joblib hydra.launcher.n_jobs=2 trainer.num_threads=1
CIFAR_TGZ = $(wildcard $(DATA_ROOT)/cifar10-jpeg.tar.gz)
CIFAR = $(if $(CIFAR_TGZ),dataset.image_folder=$(abspath $(CIFAR_TGZ)))
VARRES = $(if $(filter smoke,$(BUDGET)),++dataset.max_train=6000 ++dataset.max_test=1000)
FULL_ONLY = $(if $(filter full,$(BUDGET)),$(1))
LAB_IDS := dd2427 keras7 mainf6 vu3a rdfia
# A literal comma inside $(call ...) arguments (Hydra sweep lists).
, := ,

.PHONY: lab-data labs labs-clean report $(LAB_IDS)

lab-data: ## unpack MNIST/Fashion-MNIST IDX files from DATA_ROOT (may be read-only) into data/
	@if [ "$(abspath $(DATA_ROOT))" != "$(abspath $(LAB_DATA))" ]; then \
	  for d in MNIST FashionMNIST; do \
	    for f in $(DATA_ROOT)/$$d/raw/*-ubyte $(DATA_ROOT)/$$d/raw/*-ubyte.gz; do \
	      [ -e "$$f" ] || continue; \
	      out=$(LAB_DATA)/$$d/raw/$$(basename "$${f%.gz}"); \
	      [ -s "$$out" ] && continue; \
	      mkdir -p "$$(dirname "$$out")"; \
	      case "$$f" in *.gz) gunzip -c "$$f" > "$$out.tmp";; *) cp "$$f" "$$out.tmp";; esac; \
	      mv "$$out.tmp" "$$out"; echo "unpacked $$f -> $$out"; \
	    done; \
	  done; \
	fi

# One training run: $(1) = folder under outputs/labs/<budget>/, $(2) = preset and overrides.
define lab_run
$(LAB_RUNS)/$(1)/done: | $(STAMP) lab-data
	$$(TRAIN) $(2) +budget=$$(BUDGET) paths.data_root=$$(LAB_DATA) hydra.run.dir=$$(@D) trainer.resume=true $$(ARGS)
	touch $$@
endef

# One sweep (multirun): $(1) = folder, $(2) = preset and sweep overrides.
define lab_sweep
$(LAB_RUNS)/$(1)/done: | $(STAMP) lab-data
	$$(TRAIN) -m $(2) +budget=$$(BUDGET) paths.data_root=$$(LAB_DATA) hydra.sweep.dir=$$(@D) $$(ARGS)
	touch $$@
endef

# One non-training task: $(1) = folder under outputs/labs/tasks/, $(2) = task and overrides.
define lab_task
$(LAB_TASKS)/$(1)/done: | $(STAMP) lab-data
	rm -rf $$(@D)
	$$(LABTASK) $(2) paths.data_root=$$(LAB_DATA) hydra.run.dir=$$(@D)
	touch $$@
endef

run_done = $(LAB_RUNS)/$(1)/done
task_done = $(LAB_TASKS)/$(1)/done

# ---- training runs and sweeps ------------------------------------------------------------
$(eval $(call lab_run,keras7/e1,experiment=keras7/e1))
$(eval $(call lab_run,mainf6/a1,experiment=mainf6/a1 $$(CIFAR)))
$(eval $(call lab_run,mainf6/a2,experiment=mainf6/a2 $$(CIFAR)))
$(eval $(call lab_run,mainf6/b3,experiment=mainf6/b3 $$(CIFAR)))
$(eval $(call lab_run,mainf6/b5,experiment=mainf6/b5 $$(CIFAR)))
$(eval $(call lab_run,vu3a/q2_7,experiment=vu3a/q2_7))
$(eval $(call lab_run,vu3a/q2_8,experiment=vu3a/q2_8))
$(eval $(call lab_run,vu3a/q3_12,experiment=vu3a/q3_12 $$(VARRES)))
$(eval $(call lab_run,vu3a/q3_13,experiment=vu3a/q3_13 $$(VARRES)))
$(eval $(call lab_run,vu3a/q3_14,experiment=vu3a/q3_14 $$(VARRES)))
$(eval $(call lab_run,vu3a/q3_15,experiment=vu3a/q3_15 $$(VARRES)))
$(eval $(call lab_run,rdfia/q13,experiment=rdfia/q13))
$(eval $(call lab_run,rdfia/q15,experiment=rdfia/q15 $$(CIFAR)))
$(eval $(call lab_run,rdfia/q19,experiment=rdfia/q19 $$(CIFAR)))
$(eval $(call lab_run,rdfia/q22,experiment=rdfia/q22 $$(CIFAR)))
$(eval $(call lab_run,rdfia/q23_floor,experiment=rdfia/q23_floor $$(CIFAR)))
$(eval $(call lab_run,rdfia/q25_pad_crop,experiment=rdfia/q25_pad_crop $$(CIFAR)))
$(eval $(call lab_run,rdfia/q26,experiment=rdfia/q26 $$(CIFAR)))
$(eval $(call lab_run,rdfia/q29,experiment=rdfia/q29 $$(CIFAR)))
$(eval $(call lab_run,rdfia/q34,experiment=rdfia/q34 $$(CIFAR)))
$(eval $(call lab_run,dd2427/t16_bs16,experiment=dd2427/t16_bs16))
$(eval $(call lab_run,dd2427/t16_bs64,experiment=dd2427/t16_bs64))
# rdfia q16: learning rate x batch size around the q15 setting.
$(eval $(call lab_sweep,rdfia/q16,experiment=rdfia/q15 optimizer.lr=0.01$(,)0.1 trainer.batch_size=32$(,)128 $$(CIFAR) $$(JOBLIB)))
# rdfia q28 (bonus): other learning-rate schedules on the q26 optimiser.
$(eval $(call lab_sweep,rdfia/q28,experiment=rdfia/q26 scheduler=cosine$(,)onecycle $$(CIFAR) $$(JOBLIB)))
# vu3a q3.17: the lab's two-step tuning of both nets. Step 1: lr 0.0005..0.005 at batch 16,
# 5 epochs. Step 2: batch 4, 16, 32, 64 at each net's best lr of step 1, 10 epochs.
Q317_LRS := 0.0005,0.001,0.0015,0.002,0.0025,0.003,0.0035,0.004,0.0045,0.005
$(eval $(call lab_sweep,vu3a/q3_17/lr,experiment=vu3a/q3_17_gp$(,)vu3a/q3_17_resize optimizer.lr=$$(Q317_LRS) $$(VARRES) $$(JOBLIB)))
$(LAB_RUNS)/vu3a/q3_17/bs/done: $(LAB_RUNS)/vu3a/q3_17/lr/done | $(STAMP)
	for net in gp resize; do \
	  lr=$$($(PY) -m cnnlab.experiments best $(LAB_RUNS)/vu3a/q3_17/lr --name vu3a-q3.17-$$net --key optimizer.lr) && \
	  $(TRAIN) -m experiment=vu3a/q3_17_$$net optimizer.lr=$$lr trainer.batch_size=4,16,32,64 \
	    $(call FULL_ONLY,trainer.epochs=10) $(VARRES) $(JOBLIB) +budget=$(BUDGET) \
	    paths.data_root=$(LAB_DATA) hydra.sweep.dir=$(@D)/$$net $(ARGS) || exit 1; \
	done
	touch $@

# ---- non-training tasks --------------------------------------------------------------------
$(eval $(call lab_task,filter_bank,task=filter_bank))
$(eval $(call lab_task,activation_functions,task=activation_functions))
$(eval $(call lab_task,pooling,task=pooling))
$(eval $(call lab_task,grad_check_dd2427,task=grad_check_dd2427))
$(eval $(call lab_task,loss_layers,task=loss_layers))
$(eval $(call lab_task,textblur_stats,task=textblur_stats dataset=textblur))
$(eval $(call lab_task,conv_arith_dd2427,task=conv_arith_dd2427))
$(eval $(call lab_task,summary_deblur,task=summary model=deblur dataset=textblur))
$(eval $(call lab_task,sobel_keras7,task=sobel_keras7))
$(eval $(call lab_task,grad_keras7,task=grad_keras7))
$(eval $(call lab_task,grad_mainf6,task=grad_mainf6))
$(eval $(call lab_task,conv_arith_mainf6,task=conv_arith_mainf6))
$(eval $(call lab_task,augment_preview_cifar10,task=augment_preview dataset=cifar10 augmentation=flip_crop $$(CIFAR)))
$(eval $(call lab_task,conv_unfold_vu3a,task=conv_unfold_vu3a))
$(eval $(call lab_task,conv_arith_vu3a,task=conv_arith_vu3a))
$(eval $(call lab_task,conv_arith_rdfia,task=conv_arith_rdfia))
$(eval $(call lab_task,summary_alexnet,task=summary model=alexnet_style dataset=cifar10 $$(CIFAR)))
# Tasks that read a trained run: they live beside it (per budget).
$(LAB_RUNS)/mainf6/c/done: $(call run_done,mainf6/b5) | $(STAMP)
	rm -rf $(@D)
	$(LABTASK) task=activation_grid task.run=$(LAB_RUNS)/mainf6/b5 model=vgg_blocks dataset=cifar10 \
	  $(CIFAR) paths.data_root=$(LAB_DATA) hydra.run.dir=$(@D)
	touch $@

# ---- one target per question (ids of one row share a recipe) --------------------------------
dd2427-q1: $(call task_done,filter_bank) $(call task_done,conv_arith_dd2427) ## dd2427 q1/t1: valid-convolution output size and size-keeping padding on a photo
dd2427-t1: $(call task_done,filter_bank) $(call task_done,conv_arith_dd2427) ## dd2427 q1/t1: valid-convolution output size and size-keeping padding on a photo
dd2427-q2: $(call task_done,filter_bank) ## dd2427 q2/t2/t3/q3: Laplacian, edge and Sobel filter bank on a photo, one image per channel
dd2427-t2: $(call task_done,filter_bank) ## dd2427 q2/t2/t3/q3: Laplacian, edge and Sobel filter bank on a photo, one image per channel
dd2427-t3: $(call task_done,filter_bank) ## dd2427 q2/t2/t3/q3: Laplacian, edge and Sobel filter bank on a photo, one image per channel
dd2427-q3: $(call task_done,filter_bank) ## dd2427 q2/t2/t3/q3: Laplacian, edge and Sobel filter bank on a photo, one image per channel
dd2427-q4: $(call task_done,filter_bank) ## dd2427 q4/q5/t4: channel count K, filter depth, bank on a batch of two (N x K x H x W)
dd2427-q5: $(call task_done,filter_bank) ## dd2427 q4/q5/t4: channel count K, filter depth, bank on a batch of two (N x K x H x W)
dd2427-t4: $(call task_done,filter_bank) ## dd2427 q4/q5/t4: channel count K, filter depth, bank on a batch of two (N x K x H x W)
dd2427-t5: $(call task_done,activation_functions) ## dd2427 t5-t7: negated Laplacian then ReLU, sigmoid, tanh with histograms
dd2427-t6: $(call task_done,activation_functions) ## dd2427 t5-t7: negated Laplacian then ReLU, sigmoid, tanh with histograms
dd2427-t7: $(call task_done,activation_functions) ## dd2427 t5-t7: negated Laplacian then ReLU, sigmoid, tanh with histograms
dd2427-q7: $(call task_done,activation_functions) ## dd2427 q7-q10: ReLU with bias -0.2, fraction of active pixels
dd2427-q8: $(call task_done,activation_functions) ## dd2427 q7-q10: ReLU with bias -0.2, fraction of active pixels
dd2427-q9: $(call task_done,activation_functions) ## dd2427 q7-q10: ReLU with bias -0.2, fraction of active pixels
dd2427-q10: $(call task_done,activation_functions) ## dd2427 q7-q10: ReLU with bias -0.2, fraction of active pixels
dd2427-t8: $(call task_done,pooling) ## dd2427 t8: max and average pooling at several window sizes
dd2427-t9: $(call task_done,grad_check_dd2427) ## dd2427 t9-t12: numerical derivative checks of a convolution with a projection p
dd2427-t10: $(call task_done,grad_check_dd2427) ## dd2427 t9-t12: numerical derivative checks of a convolution with a projection p
dd2427-t11: $(call task_done,grad_check_dd2427) ## dd2427 t9-t12: numerical derivative checks of a convolution with a projection p
dd2427-t12: $(call task_done,grad_check_dd2427) ## dd2427 t9-t12: numerical derivative checks of a convolution with a projection p
dd2427-q10b: $(call task_done,grad_check_dd2427) ## dd2427 q10b-q14: backprop checks incl. a conv+ReLU+conv net (max abs difference)
dd2427-q11: $(call task_done,grad_check_dd2427) ## dd2427 q10b-q14: backprop checks incl. a conv+ReLU+conv net (max abs difference)
dd2427-q12: $(call task_done,grad_check_dd2427) ## dd2427 q10b-q14: backprop checks incl. a conv+ReLU+conv net (max abs difference)
dd2427-q13: $(call task_done,grad_check_dd2427) ## dd2427 q10b-q14: backprop checks incl. a conv+ReLU+conv net (max abs difference)
dd2427-q14: $(call task_done,grad_check_dd2427) ## dd2427 q10b-q14: backprop checks incl. a conv+ReLU+conv net (max abs difference)
dd2427-t13: $(call task_done,loss_layers) ## dd2427 t13/t14: L2 and L1 loss layers, numerical check, L1 near 0
dd2427-t14: $(call task_done,loss_layers) ## dd2427 t13/t14: L2 and L1 loss layers, numerical check, L1 near 0
dd2427-t15: $(call task_done,textblur_stats) ## dd2427 t15/q15: the text data set: counts, image size, white = 0
dd2427-q15: $(call task_done,textblur_stats) ## dd2427 t15/q15: the text data set: counts, image size, white = 0
dd2427-q16: $(call task_done,conv_arith_dd2427) $(call task_done,summary_deblur) ## dd2427 q16-q19: deblur net sizes, mul-adds, receptive field
dd2427-q17: $(call task_done,conv_arith_dd2427) $(call task_done,summary_deblur) ## dd2427 q16-q19: deblur net sizes, mul-adds, receptive field
dd2427-q18: $(call task_done,conv_arith_dd2427) $(call task_done,summary_deblur) ## dd2427 q16-q19: deblur net sizes, mul-adds, receptive field
dd2427-q19: $(call task_done,conv_arith_dd2427) $(call task_done,summary_deblur) ## dd2427 q16-q19: deblur net sizes, mul-adds, receptive field
dd2427-q20: $(call task_done,conv_arith_dd2427) ## dd2427 q20-q22: a larger receptive field (5x5 first layer), pad 0
dd2427-q21: $(call task_done,conv_arith_dd2427) ## dd2427 q20-q22: a larger receptive field (5x5 first layer), pad 0
dd2427-q22: $(call task_done,conv_arith_dd2427) ## dd2427 q20-q22: a larger receptive field (5x5 first layer), pad 0
dd2427-t16: $(call run_done,dd2427/t16_bs16) $(call run_done,dd2427/t16_bs64) ## dd2427 t16: train the deblur net with batch 16 and 64 (BUDGET=full|smoke)
dd2427-eval: $(call run_done,dd2427/t16_bs16) $(call run_done,dd2427/t16_bs64) ## dd2427 eval: input/output/target grids (written by the t16 runs), train vs val loss and PSNR

keras7-e1: $(call run_done,keras7/e1) ## keras7 e1: the 93,322-parameter CNN on MNIST, RMSprop, 5 epochs (BUDGET=full|smoke)
keras7-e2: $(call task_done,sobel_keras7) ## keras7 e2: convolution by loops vs torch, Sobel edge magnitude
keras7-e3: $(call task_done,grad_keras7) ## keras7 e3: dL/dK, dL/dX by the lab's formulas; gradient ascent image

mainf6-ta: $(call task_done,grad_mainf6) ## mainf6 ta: closed-form gradients of conv, max pool, strided conv vs autograd
mainf6-tb: $(call task_done,conv_arith_mainf6) ## mainf6 tb: receptive field and VALID output size formulas vs real layers
mainf6-a1: $(call run_done,mainf6/a1) ## mainf6 a1: MLP with batch norm on CIFAR-10, Adam 5e-4, 25 epochs (BUDGET=full|smoke)
mainf6-a2: $(call run_done,mainf6/a2) ## mainf6 a2: VGG-block CNN on CIFAR-10, same schedule (BUDGET=full|smoke)
mainf6-a3: $(call run_done,mainf6/a1) $(call run_done,mainf6/a2) ## mainf6 a3: losses and accuracies of a1 and a2 in one figure
	$(PY) -m cnnlab.experiments --lab mainf6
mainf6-b1: $(call task_done,augment_preview_cifar10) ## mainf6 b1/b2: the chosen augmentations (crop, flip) as a grid of draws
mainf6-b2: $(call task_done,augment_preview_cifar10) ## mainf6 b1/b2: the chosen augmentations (crop, flip) as a grid of draws
mainf6-b3: $(call run_done,mainf6/b3) ## mainf6 b3: the CNN retrained with augmentation (BUDGET=full|smoke)
mainf6-b4: $(call run_done,mainf6/a1) $(call run_done,mainf6/a2) $(call run_done,mainf6/b3) ## mainf6 b4: augmented run plotted with a1 and a2
	$(PY) -m cnnlab.experiments --lab mainf6
mainf6-b5: $(call run_done,mainf6/a1) $(call run_done,mainf6/a2) $(call run_done,mainf6/b3) $(call run_done,mainf6/b5) ## mainf6 b5: regularisation on top, plotted with everything
	$(PY) -m cnnlab.experiments --lab mainf6
mainf6-c: $(LAB_RUNS)/mainf6/c/done ## mainf6 c: every conv activation after ReLU of the b5 net for one image

vu3a-q1.1: $(call task_done,conv_unfold_vu3a) ## vu3a q1.1-q1.3: convolution by loops and by unfold, equal to torch's
vu3a-q1.2: $(call task_done,conv_unfold_vu3a) ## vu3a q1.1-q1.3: convolution by loops and by unfold, equal to torch's
vu3a-q1.3: $(call task_done,conv_unfold_vu3a) ## vu3a q1.1-q1.3: convolution by loops and by unfold, equal to torch's
vu3a-q1.4: $(call task_done,conv_unfold_vu3a) ## vu3a q1.4-q1.6: unfold convolution autograd Function, gradcheck
vu3a-q1.5: $(call task_done,conv_unfold_vu3a) ## vu3a q1.4-q1.6: unfold convolution autograd Function, gradcheck
vu3a-q1.6: $(call task_done,conv_unfold_vu3a) ## vu3a q1.4-q1.6: unfold convolution autograd Function, gradcheck
vu3a-q2.7: $(call run_done,vu3a/q2_7) ## vu3a q2.7: baseline CNN on MNIST 50k/10k, lr 0.001, batch 16, 5 epochs (BUDGET=full|smoke)
vu3a-q2.8: $(call run_done,vu3a/q2_8) ## vu3a q2.8/q2.9: the same with rotation and affine augmentation (BUDGET=full|smoke)
vu3a-q2.9: $(call run_done,vu3a/q2_8) ## vu3a q2.8/q2.9: the same with rotation and affine augmentation (BUDGET=full|smoke)
vu3a-q3.10: $(call task_done,conv_arith_vu3a) ## vu3a q3.10/q3.11: strided conv output sizes, global pooling shapes
vu3a-q3.11: $(call task_done,conv_arith_vu3a) ## vu3a q3.10/q3.11: strided conv output sizes, global pooling shapes
vu3a-q3.12: $(call run_done,vu3a/q3_12) ## vu3a q3.12/q3.13: variable-resolution MNIST resized to the smallest size (BUDGET=full|smoke)
vu3a-q3.13: $(call run_done,vu3a/q3_13) ## vu3a q3.13: variable-resolution MNIST resized up to the largest size (BUDGET=full|smoke)
vu3a-q3.14: $(call run_done,vu3a/q3_14) ## vu3a q3.14: global max pool net on variable-resolution batches (BUDGET=full|smoke)
vu3a-q3.15: $(call run_done,vu3a/q3_15) ## vu3a q3.15: the same net with global average pooling (BUDGET=full|smoke)
vu3a-q3.16: $(call run_done,vu3a/q3_14) $(call run_done,vu3a/q3_15) ## vu3a q3.16: max vs average pooling curves
	$(PY) -m cnnlab.experiments --lab vu3a
vu3a-q3.17: $(LAB_RUNS)/vu3a/q3_17/bs/done ## vu3a q3.17: lr and batch-size sweeps of both nets (joblib), the tuned pair
	$(PY) -m cnnlab.experiments --lab vu3a

rdfia-q1: $(call task_done,conv_arith_rdfia) ## rdfia q1-q4: conv output size and weights vs a dense layer, larger inputs
rdfia-q2: $(call task_done,conv_arith_rdfia) ## rdfia q1-q4: conv output size and weights vs a dense layer, larger inputs
rdfia-q3: $(call task_done,conv_arith_rdfia) ## rdfia q1-q4: conv output size and weights vs a dense layer, larger inputs
rdfia-q4: $(call task_done,conv_arith_rdfia) ## rdfia q1-q4: conv output size and weights vs a dense layer, larger inputs
rdfia-q5: $(call task_done,conv_arith_rdfia) ## rdfia q5-q7: dense layers as convolutions, receptive fields
rdfia-q6: $(call task_done,conv_arith_rdfia) ## rdfia q5-q7: dense layers as convolutions, receptive fields
rdfia-q7: $(call task_done,conv_arith_rdfia) ## rdfia q5-q7: dense layers as convolutions, receptive fields
rdfia-q8: $(call task_done,conv_arith_rdfia) $(call task_done,summary_alexnet) ## rdfia q8-q12: the AlexNet-style net layer by layer
rdfia-q9: $(call task_done,conv_arith_rdfia) $(call task_done,summary_alexnet) ## rdfia q8-q12: the AlexNet-style net layer by layer
rdfia-q10: $(call task_done,conv_arith_rdfia) $(call task_done,summary_alexnet) ## rdfia q8-q12: the AlexNet-style net layer by layer
rdfia-q11: $(call task_done,conv_arith_rdfia) $(call task_done,summary_alexnet) ## rdfia q8-q12: the AlexNet-style net layer by layer
rdfia-q12: $(call task_done,conv_arith_rdfia) $(call task_done,summary_alexnet) ## rdfia q8-q12: the AlexNet-style net layer by layer
rdfia-q13: $(call run_done,rdfia/q13) ## rdfia q13/q14: LeNet-5 on MNIST; train (running) vs test metrics (BUDGET=full|smoke)
rdfia-q14: $(call run_done,rdfia/q13) ## rdfia q13/q14: LeNet-5 on MNIST; train (running) vs test metrics (BUDGET=full|smoke)
rdfia-q15: $(call run_done,rdfia/q15) ## rdfia q15/q17/q18: the AlexNet-style net on CIFAR-10, first-epoch error, over-fitting
rdfia-q17: $(call run_done,rdfia/q15) ## rdfia q15/q17/q18: the AlexNet-style net on CIFAR-10, first-epoch error, over-fitting
rdfia-q18: $(call run_done,rdfia/q15) ## rdfia q15/q17/q18: the AlexNet-style net on CIFAR-10, first-epoch error, over-fitting
rdfia-q16: $(call run_done,rdfia/q16) ## rdfia q16: sweep of learning rate and batch size (joblib)
rdfia-q19: $(call run_done,rdfia/q19) ## rdfia q19-q21: + per-channel standardisation from the train split
rdfia-q20: $(call run_done,rdfia/q19) ## rdfia q19-q21: + per-channel standardisation from the train split
rdfia-q21: $(call run_done,rdfia/q19) ## rdfia q19-q21: + per-channel standardisation from the train split
rdfia-q22: $(call run_done,rdfia/q22) ## rdfia q22-q25: + random crop 28 and flip, centre crop at test, ceil_mode pool3
rdfia-q23: $(call run_done,rdfia/q22) $(call run_done,rdfia/q23_floor) ## rdfia q22-q25: + random crop 28 and flip, centre crop at test, ceil_mode pool3
rdfia-q24: $(call run_done,rdfia/q22) $(call run_done,rdfia/q23_floor) ## rdfia q22-q25: + random crop 28 and flip, centre crop at test, ceil_mode pool3
rdfia-q25: $(call run_done,rdfia/q22) $(call run_done,rdfia/q25_pad_crop) ## rdfia q22-q25: + random crop 28 and flip, centre crop at test, ceil_mode pool3
rdfia-q26: $(call run_done,rdfia/q26) ## rdfia q26/q27: + SGD momentum 0.9 and exponential lr decay 0.95
rdfia-q27: $(call run_done,rdfia/q26) ## rdfia q26/q27: + SGD momentum 0.9 and exponential lr decay 0.95
rdfia-q28: $(call run_done,rdfia/q28) ## rdfia q28: other lr schedules (cosine, one-cycle) on the q26 optimiser
rdfia-q29: $(call run_done,rdfia/q29) ## rdfia q29-q33: + dropout between fc4 and fc5
rdfia-q30: $(call run_done,rdfia/q29) ## rdfia q29-q33: + dropout between fc4 and fc5
rdfia-q31: $(call run_done,rdfia/q29) ## rdfia q29-q33: + dropout between fc4 and fc5
rdfia-q32: $(call run_done,rdfia/q29) ## rdfia q29-q33: + dropout between fc4 and fc5
rdfia-q33: $(call run_done,rdfia/q29) ## rdfia q29-q33: + dropout between fc4 and fc5
rdfia-q34: $(call run_done,rdfia/q34) ## rdfia q34: + batch norm after each convolution (the whole ladder in one table)
	$(PY) -m cnnlab.experiments --lab rdfia

# ---- whole labs ------------------------------------------------------------------------------
# The question targets of a lab, read from the lines above (one target per question id).
LAB_TARGETS = $(shell sed -nE 's/^($(1)-[a-z0-9.]+):.*/\1/p' mk/labs.mk)
.PHONY: $(foreach lab,$(LAB_IDS),$(call LAB_TARGETS,$(lab)))
dd2427: $(call LAB_TARGETS,dd2427) ## every dd2427 question, then its README
	$(PY) -m cnnlab.experiments --lab dd2427
keras7: $(call LAB_TARGETS,keras7) ## every keras7 question, then its README
	$(PY) -m cnnlab.experiments --lab keras7
mainf6: $(call LAB_TARGETS,mainf6) ## every mainf6 question, then its README
	$(PY) -m cnnlab.experiments --lab mainf6
vu3a: $(call LAB_TARGETS,vu3a) ## every vu3a question, then its README
	$(PY) -m cnnlab.experiments --lab vu3a
rdfia: $(call LAB_TARGETS,rdfia) ## every rdfia question, then its README
	$(PY) -m cnnlab.experiments --lab rdfia
labs: $(LAB_IDS) ## every question of the five labs, then every README (BUDGET=full|smoke)

report: | $(STAMP) ## rebuild experiments/<lab>/README.md of all five labs from outputs/labs/
	$(PY) -m cnnlab.experiments

labs-clean: ## forget the lab results of this BUDGET so the next `make <lab>-<q>` reruns them
	rm -rf $(LAB_RUNS) $(LAB_TASKS)
