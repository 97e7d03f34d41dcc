"""Print one closing line, 'N passed, N failed, N skipped', from the JUnit XML files colcon test wrote."""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

base = Path(sys.argv[1] if len(sys.argv) > 1 else "build")
total = failed = skipped = 0
for xml_file in sorted(base.glob("*/pytest.xml")):
    root = ET.parse(xml_file).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for suite in suites:
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
passed = total - failed - skipped
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or total == 0 else 0)
