import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ApplicationWindow {
    id: window
    objectName: "window"
    title: "QML Hello"
    width: 360
    height: 140
    visible: true

    ColumnLayout {
        anchors.fill: parent
        Label {
            objectName: "greeting"
            text: "Hello from QML packaged by Kiln"
        }
        Button {
            objectName: "button"
            text: "Quit"
            onClicked: Qt.quit()
        }
    }
}
