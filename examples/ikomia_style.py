"""An Ikomia script, unchanged but for its imports: classify cat.jpg with a pretrained ResNeXt-50.

    python examples/ikomia_style.py      # in a folder holding cat.jpg

Ikomia's imports were ``from ikomia.dataprocess.workflow import Workflow``,
``from ikomia.utils import ik`` and ``from ikomia.utils.displayIO import display``.
"""

from workflow import Workflow
from workflow.display import display
from workflow.plugins import ik

wf = Workflow()
algo = wf.add_task(ik.infer_torchvision_resnext(model_name="resnext50", cuda="False"), auto_connect=True)
wf.run_on(path="cat.jpg")
display(algo.get_image_with_graphics())
display(algo.get_results())
top = algo.get_output(0).top
print(f"{top.label}: {top.score:.3f}")
