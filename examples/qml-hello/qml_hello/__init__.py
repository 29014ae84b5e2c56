"""qml_hello: a QtQuick window with QtQuick.Controls, beside a QtWidgets dialog, packaged by Kiln's examples."""
