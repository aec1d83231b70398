"""An Ikomia script, unchanged but for its imports: classify cat.jpg with a pretrained ResNeXt-50.

    python examples/ikomia_style.py      # in a folder holding cat.jpg

Ikomia's imports were ``from ikomia.dataprocess.workflow import Workflow``,
``from ikomia.utils import ik`` and ``from ikomia.utils.displayIO import display``. Every call below is
one of Ikomia's: the hub plugin's parameters as strings, its input image on input 0, the annotated image,
and the classification accessors of Ikomia's classification tasks (``(name, confidence)`` pairs, best first).
"""

from workflow import Workflow, ik
from workflow.display import display

wf = Workflow()
algo = wf.add_task(ik.infer_torchvision_resnext(model_name="resnext50", input_size="224"), auto_connect=True)
wf.run_on(path="cat.jpg")
display(algo.get_input(0).get_image())
display(algo.get_image_with_graphics())
for name, confidence in algo.get_whole_image_results()[:3]:
    print(f"{name}: {float(confidence):.3f}")
